# The two commands a newcomer needs. Both install what is missing first.
.PHONY: dev test bench scale package sync smoke

# The local S3/DynamoDB stack and the whole API on http://127.0.0.1:$(PORT) (default 3000).
dev:
	scripts/dev.sh

# Every check CI runs: fmt, clippy, unit and integration tests, template validation.
test:
	scripts/test.sh

# Not part of `make test`: presigning, batch handler, binary sizes (x86-64 and arm64), cold starts
# and memory under the Lambda Runtime Interface Emulator, printed as one table (BENCHMARKS.md).
bench:
	scripts/bench.sh

# The scale simulation (docs/scale.md): the real endpoints over the in-memory stores in virtual
# time, with DynamoDB's, S3's, API Gateway's and Lambda's limits; prints one table per workload.
scale:
	SCALE=full cargo test --release --locked -p shared --test scale

# The deploy build: `sam build` offline (as `sam deploy` ships it), then a check of every function's
# arm64 bootstrap and the built template (scripts/package.sh). SAM_ENV=prod for `--config-env prod`.
package:
	scripts/package.sh

# Deploy loop for the dev stack: `sam sync --watch` that also rebuilds on changes in shared/
# (scripts/sync.sh). Needs AWS credentials.
sync:
	scripts/sync.sh

# A whole upload against a deployment: make smoke API_URL=https://... TOKEN=<a JWT> (docs/deploy.md).
smoke:
	scripts/smoke.sh "$(API_URL)" "$(TOKEN)"
