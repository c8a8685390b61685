"""Cost anomalies: daily spend against its 7-day baseline (product-notes.md section 11)."""
