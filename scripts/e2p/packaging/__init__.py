"""Building the Lambda's deployment package."""
