# upnsync as a small static image, for a Kubernetes CronJob or `docker run`.
# Build: docker build -t upnsync --build-arg VERSION=1.0.0 --build-arg COMMIT=$(git rev-parse HEAD) .
# The binary is built as scripts/release.sh builds it (same flags), which CI runs.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
# CGO_ENABLED=0: the SQLite driver is pure Go, so the binary needs no libc.
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /out/upnsync ./cmd/upnsync \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/upnsync /usr/local/bin/upnsync
# The working folder holds the store (sqlite:octopus-users.db by default),
# reports and summaries: owned by distroless's nonroot user (65532), and
# meant to be a volume (a PersistentVolumeClaim in deploy/kubernetes).
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
WORKDIR /data
VOLUME /data
ENTRYPOINT ["/usr/local/bin/upnsync"]
CMD ["--help"]
