# Operations: the container image (built with buildah where no Docker daemon or registry exists),
# a real run of it, and the deployment files' validation.
#   make image       - docker/Dockerfile built on a Debian base made with debootstrap
#   make image-test  - the built image run in a chroot against local PostgreSQL and Redis
# Neither is part of `make test` (minutes, root, network to the Debian mirror and PyPI).
# lint-ops (in `make lint`): hadolint, the Kubernetes manifests against the API schemas.

LINT_TARGETS += lint-ops

IMAGE ?= localhost/sidekick:latest
IMAGE_BASE ?= localhost/sidekick-base:bookworm
IMAGE_ARCHIVE ?= build/image/sidekick-image.tar
# Where a registry is reachable: make image IMAGE_BASE=python:3.11-slim-bookworm IMAGE_BUILD_PACKAGES="gcc libc6-dev"
IMAGE_BUILD_PACKAGES ?= gcc libc6-dev python3-dev
# The host's CA bundle, mounted for pip during the build only (never copied into the image).
IMAGE_CA ?= $(wildcard /etc/ssl/certs/ca-certificates.crt)
BUILDAH := buildah --storage-driver vfs
KUBERNETES_VERSION ?= 1.30.0

.PHONY: image image-base image-test lint-ops

image-base:
	@scripts/install-system-deps.sh image
	docker/build-base.sh $(IMAGE_BASE) build/image

image: $(if $(filter localhost/%,$(IMAGE_BASE)),image-base)
	@scripts/install-system-deps.sh image
	$(BUILDAH) build --isolation chroot --format docker -f docker/Dockerfile -t $(IMAGE) \
	  --build-arg BASE=$(IMAGE_BASE) --build-arg BUILD_PACKAGES="$(IMAGE_BUILD_PACKAGES)" \
	  $(if $(IMAGE_CA),--volume $(IMAGE_CA):/run/build-ca.crt:ro --build-arg PIP_CERT=/run/build-ca.crt) .
	@mkdir -p $(dir $(IMAGE_ARCHIVE))
	rm -f $(IMAGE_ARCHIVE)
	$(BUILDAH) push $(IMAGE) docker-archive:$(IMAGE_ARCHIVE):$(IMAGE)
	@$(BUILDAH) images --format '{{.Name}}:{{.Tag}} {{.Size}}' $(IMAGE)
	@ls -l $(IMAGE_ARCHIVE)

image-test:
	@scripts/install-system-deps.sh image
	docker/image-test.sh $(IMAGE)

lint-ops: $(PY_STAMP)
	$(VENV)/bin/hadolint docker/Dockerfile
	$(VENV)/bin/kubernetes-validate --strict --quiet --kubernetes-version $(KUBERNETES_VERSION) docker/kubernetes/*.yaml
