"""One pydantic model per JSON payload: requests are validated, answers shaped, and the OpenAPI
document generated from them (quart-schema)."""
