"""Google Cloud: the BigQuery billing export, Cloud Asset inventory and Recommender."""
