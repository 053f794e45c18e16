#!/usr/bin/env bash
# Runs the Dockerfile's steps for real on a Debian 12 machine that has no Docker engine (CI), without
# a second compile of the server: part of `make test` (scripts/test.sh), about a minute, needs root
# and Debian's package mirror. Usage: scripts/check-dockerfile.sh BUILD_DIR
#
# How (scripts/check_dockerfile.py does it; dockerfile-parse reads the Dockerfile, docker-py's
# .dockerignore rules pick the context):
#  1. The build context: the files `docker build .` would send (.dockerignore applied), copied into a
#     scratch directory with their modification times.
#  2. The build stage (FROM debian:bookworm) runs on this machine, which is Debian 12 too: each COPY
#     into the scratch WORKDIR, each RUN with `sh -c` there. So scripts/install-deps.sh really runs
#     (a no-op when the packages are there). Two build arguments are overridden as `docker build
#     --build-arg` would: STAGING, the runtime files' root, becomes a scratch directory, and
#     BUILD_DIR becomes the build directory `make test` has just built (the argument). The compile
#     step (`make $BUILD_DIR/build.ninja` + `cmake --build $BUILD_DIR --target chat-engine`) then
#     finds the configuration and the binary up to date: ninja has no work to do, and CI compiles the
#     server once. Because the copied sources keep their times, make does not re-run cmake either.
#     A RUN of the build stage that names an absolute path other than through those arguments
#     would touch this machine, so it is refused with an error.
#  3. The runtime stage (FROM debian:bookworm-slim) runs in a minimal Debian 12 root made by
#     mmdebstrap (--variant=minbase: what the slim image is): each RUN in a chroot with the stage's
#     ENV and USER (so apt-get installs the listed runtime libraries from the mirror and useradd
#     creates the user there), COPY --from=build copies the staging root in.
#  4. Then it checks the result as `docker run` would use it: `ldd` of the binary inside the root
#     finds every library (so the listed packages are enough); the user exists and owns the VOLUME;
#     the ENTRYPOINT, started in the root as that user with the image's ENV (the port moved to a free
#     one), gets healthy by the HEALTHCHECK's own command, writes its data as that user, and exits 0
#     on the STOPSIGNAL.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR (a directory \`make build\` has built)" >&2; exit 2; }
scripts/python-env.sh
exec .venv/bin/python scripts/check_dockerfile.py --build-dir "$1"
