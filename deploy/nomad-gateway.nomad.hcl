# The gateway on Nomad itself: two replicas of the image built from the Dockerfile, and the Redis
# they share, found through Nomad's native service discovery (no Consul needed).
#
#   docker build -t registry.example.com/nomad-graphql-gateway:0.1.0 . && docker push ...
#   nomad job run -var image=registry.example.com/nomad-graphql-gateway:0.1.0 deploy/nomad-gateway.nomad.hcl
#
# Clients reach the replicas through your ingress (Traefik's Nomad provider, or nginx/HAProxy fed by a
# nomadService template) on service "nomad-graphql-gateway"; it must pass WebSocket upgrades and allow
# idle connections of more than a minute (deploy/nginx.conf shows the settings).
#
# Every variable in the gateway's env below is one src/config.ts knows: test/unit/deploy checks it.

variable "image" {
  type        = string
  description = "The gateway's image, built from the Dockerfile and pushed where the clients can pull it."
}

variable "datacenters" {
  type    = list(string)
  default = ["*"]
}

variable "redis_image" {
  type    = string
  default = "redis:7-alpine"
}

job "nomad-graphql-gateway" {
  type        = "service"
  datacenters = var.datacenters

  # The Redis the replicas share: watch leases, events between replicas, exec session routing. Its
  # contents live only as long as the replicas' processes, so it needs no volume; if it restarts, the
  # replicas reconnect and bring their views up to date (WATCHING.md). A managed Redis works as well:
  # drop this group and render REDIS_URL (rediss://user:password@host:port) from a Nomad Variable.
  group "redis" {
    count = 1

    network {
      port "redis" {
        to = 6379
      }
    }

    service {
      provider = "nomad"
      name     = "nomad-gateway-redis"
      port     = "redis"

      check {
        type     = "tcp"
        interval = "10s"
        timeout  = "2s"
      }
    }

    task "redis" {
      driver = "docker"

      config {
        image = var.redis_image
        ports = ["redis"]
        args  = ["--save", "", "--appendonly", "no"]
      }

      resources {
        cpu    = 100
        memory = 128
      }
    }
  }

  group "gateway" {
    count = 2

    # One replica at a time; a new version must pass both checks below for 10 s, else the deployment
    # rolls back by itself.
    update {
      max_parallel      = 1
      health_check      = "checks"
      min_healthy_time  = "10s"
      healthy_deadline  = "3m"
      progress_deadline = "10m"
      auto_revert       = true
    }

    # Prefer the two replicas on different nodes (a preference, so a one-node cluster still runs both).
    spread {
      attribute = "${node.unique.id}"
    }

    network {
      port "http" {
        to = 4000
      }
    }

    service {
      provider = "nomad"
      name     = "nomad-graphql-gateway"
      port     = "http"
      tags     = ["graphql"]

      # Liveness: 200 while the process runs. Three failures in a row restart the task.
      check {
        name     = "alive"
        type     = "http"
        path     = "/healthz"
        interval = "10s"
        timeout  = "2s"

        check_restart {
          limit = 3
          grace = "30s"
        }
      }

      # Readiness: 200 once Nomad answers /v1/status/leader and Redis is connected; 503 while the
      # replica drains on SIGTERM. No restart on failure: a replica waits for Nomad or Redis to come back.
      check {
        name     = "ready"
        type     = "http"
        path     = "/readyz"
        interval = "10s"
        timeout  = "3s"
      }
    }

    task "gateway" {
      driver = "docker"

      config {
        image           = var.image
        ports           = ["http"]
        init            = true
        readonly_rootfs = true
        cap_drop        = ["all"]

        # tsx keeps its transform cache in /tmp.
        mount {
          type     = "tmpfs"
          target   = "/tmp"
          readonly = false
          tmpfs_options {
            size = 67108864
          }
        }
      }

      # On SIGTERM the gateway drains for up to SHUTDOWN_TIMEOUT_MS (10 s by default): Nomad first
      # removes the service (shutdown_delay lets ingresses notice), then waits kill_timeout before SIGKILL.
      kill_signal    = "SIGTERM"
      shutdown_delay = "5s"
      kill_timeout   = "20s"

      env {
        # The Nomad agent on the replica's own node. For TLS: https://, and NOMAD_CACERT (with
        # NOMAD_CLIENT_CERT and NOMAD_CLIENT_KEY for mutual TLS) pointing at PEM files a template
        # renders into secrets/ (the container's /secrets).
        NOMAD_ADDR = "http://${attr.unique.network.ip-address}:4646"
        HOST       = "0.0.0.0"
        PORT       = "4000"
        LOG_LEVEL  = "info"
      }

      # REDIS_URL from the registered Redis service. Until Redis is registered, the URL is one that
      # cannot resolve, so the replica fails its start loudly (it refuses to run without the Redis it was
      # given) rather than silently serving on its own; when Redis registers or moves, the template
      # renders again and the task restarts (splay keeps the two replicas from restarting together).
      template {
        data        = <<-EOT
          {{- range nomadService "nomad-gateway-redis" }}
          REDIS_URL=redis://{{ .Address }}:{{ .Port }}
          {{- else }}
          REDIS_URL=redis://nomad-gateway-redis.not-registered.invalid:6379
          {{- end }}
        EOT
        destination = "secrets/redis.env"
        env         = true
        change_mode = "restart"
        splay       = "15s"
      }

      resources {
        cpu    = 500
        memory = 384
      }
    }
  }
}
