"""Alert rules: a spend metric compared with a threshold, evaluated after every cost change and
hourly, notifying through the hub (``alert_triggered``) once per day or period."""
