"""Cloud providers' own cost recommendations (Azure Advisor today), stored as the provider gave
them for the savings area to read: no router of its own yet."""
