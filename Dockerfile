# upnsync as a small static image, for a Kubernetes CronJob or `docker run`.
# Build: docker build -t upnsync --build-arg VERSION=1.0.0 .
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
      -o /out/upnsync ./cmd/upnsync

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/upnsync /usr/local/bin/upnsync
# distroless's nonroot user (65532); the working folder holds the store and reports.
USER 65532:65532
WORKDIR /data
ENTRYPOINT ["/usr/local/bin/upnsync"]
CMD ["--help"]
