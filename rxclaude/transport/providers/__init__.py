"""Where a request goes and how its answer is framed: first-party API, Bedrock (eventstream and
Messages endpoints), Vertex AI, Microsoft Foundry, Claude Platform on AWS, Google Cloud."""
