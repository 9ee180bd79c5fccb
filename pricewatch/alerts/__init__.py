"""Price alerts: rules with state in the database, delivered through apprise and webhooks.

``AlertJudge`` judges checks and stores the alerts that fire; ``Dispatcher`` delivers them in
the background with retries; ``rules`` is the pure core both are built around.
"""

from pricewatch.alerts.dispatch import Dispatcher
from pricewatch.alerts.judge import AlertJudge
from pricewatch.alerts.message import Alert

__all__ = ["Alert", "AlertJudge", "Dispatcher"]
