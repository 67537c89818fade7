"""The flags app: models, the service layer every write goes through, the REST API, the admin."""
