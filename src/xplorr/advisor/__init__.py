"""Cloud providers' own cost recommendations (Azure Advisor, GCP Recommender) in one store: the
collectors write them and the recommendations engine reads them through ``advisor.service``;
no router of its own (``GET /recommendations`` lists them)."""
