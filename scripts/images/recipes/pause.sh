# pause: the pod sandbox's process for containerd (sandbox_image). Kubernetes' own pause is a
# small C program with no Debian package; this one is Debian's dumb-init as PID 1 running
# 'sleep infinity': it holds the pod's namespaces, reaps orphans, and exits on SIGTERM/SIGINT
# (dumb-init forwards the signal to sleep, which dies of it). Tagged 3.2, the pause tag kubelet
# 1.20 asks for by default (--pod-infra-container-image); set the name explicitly anyway.
IMAGE_TAG=3.2
PACKAGES=(dumb-init)
IMAGE_USER=65535:65535
IMAGE_ENTRYPOINT=(/usr/bin/dumb-init -- /bin/sleep infinity)
