"""The AWS connector: sessions (keys, assumed roles), S3 Data Exports, Cost Explorer."""
