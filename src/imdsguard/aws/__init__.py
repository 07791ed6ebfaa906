"""The only package that imports boto3/botocore: sessions, thin adapters, error translation."""
