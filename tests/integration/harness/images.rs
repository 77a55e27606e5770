//! What the harness needs to know about each image it can stand in for: which natively built
//! binary replaces it, and the image's own entrypoint, default command, user and environment
//! (from the upstream Dockerfiles at the pinned versions), so a compose service runs exactly as
//! its container would. Images missing here cannot run in the harness (Tempo, Grafana, SigNoz).

/// One image the harness can run natively.
pub struct Image {
    /// Repository part of the compose `image:` (the tag is checked against `scripts/backends`).
    pub repository: &'static str,
    /// Key of the binary in `scripts/backends` output.
    pub binary: &'static str,
    /// Where the image keeps its executable (ENTRYPOINT).
    pub entrypoint: &'static str,
    /// CMD, used when the compose service has no `command:`.
    pub command: &'static [&'static str],
    /// USER, used when the compose service has no `user:`.
    pub user: &'static str,
    /// ENV lines of the image.
    pub environment: &'static [(&'static str, &'static str)],
    /// Folders of the image as (path, uid, gid, mode): a new named volume mounted on one
    /// starts with its owner and mode, as Docker copies them.
    pub folders: &'static [(&'static str, u32, u32, u32)],
}

pub const IMAGES: &[Image] = &[
    // opentelemetry-collector-releases distributions/otelcol-contrib/Dockerfile
    Image {
        repository: "otel/opentelemetry-collector-contrib",
        binary: "otelcol",
        entrypoint: "/otelcol-contrib",
        command: &["--config", "/etc/otelcol-contrib/config.yaml"],
        user: "10001:10001",
        environment: &[],
        folders: &[],
    },
    // jaeger cmd/jaeger/Dockerfile (release stage)
    Image {
        repository: "jaegertracing/jaeger",
        binary: "jaeger",
        entrypoint: "/cmd/jaeger/jaeger-linux",
        command: &[],
        user: "10001:10001",
        environment: &[("JAEGER_LISTEN_HOST", "0.0.0.0")],
        // alpine base image
        folders: &[("/tmp", 0, 0, 0o1777)],
    },
    // busybox (Docker official image): no ENTRYPOINT, and every applet (/bin/chown, /bin/sh…)
    // is a link to /bin/busybox, which runs the applet its first argument names.
    Image {
        repository: "busybox",
        binary: "busybox",
        entrypoint: "/bin/busybox",
        command: &["sh"],
        user: "0:0",
        environment: &[],
        folders: &[],
    },
];

/// The image spec for a compose `image:` value (`repository:tag`).
pub fn find(image: &str) -> Option<&'static Image> {
    let repository = image.rsplit_once(':').map_or(image, |(repo, _)| repo);
    IMAGES.iter().find(|known| known.repository == repository)
}
