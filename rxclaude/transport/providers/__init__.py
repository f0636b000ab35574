"""Where a request goes and how its answer is framed: first-party API, Bedrock, Vertex."""
