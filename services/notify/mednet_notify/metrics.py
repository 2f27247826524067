from prometheus_client import Counter

NOTIFICATIONS = Counter("mednet_notifications_total", "Alerts by channel, kind and outcome",
                        ["channel", "kind", "outcome"])
