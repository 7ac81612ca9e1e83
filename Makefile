# The two commands a newcomer needs. Both install what is missing first.
.PHONY: dev test

# The local S3/DynamoDB stack and the whole API on http://127.0.0.1:$(PORT) (default 3000).
dev:
	scripts/dev.sh

# Every check CI runs: fmt, clippy, unit and integration tests, template validation.
test:
	scripts/test.sh
