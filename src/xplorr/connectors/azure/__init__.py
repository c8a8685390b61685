"""Azure: Cost Management exports or the Query API, Resource Graph inventory."""
