# Demo workload for the docker-compose stack (docker-compose.yml registers it through the
# nomad-demo-job service). raw_exec, which `nomad agent -dev` enables: the tasks are plain processes
# inside the Nomad container, using its busybox tools, so they need no image pulls and
# `nomad alloc exec` (and the gateway's /exec terminal) can open /bin/sh in them.

job "demo" {
  type = "service"

  group "web" {
    count = 3

    task "server" {
      driver = "raw_exec"

      config {
        command = "/bin/sh"
        args    = ["-c", "while true; do date; sleep 10; done"]
      }

      resources {
        cpu    = 20
        memory = 16
      }
    }
  }

  group "worker" {
    count = 1

    task "worker" {
      driver = "raw_exec"

      config {
        command = "/bin/sh"
        args    = ["-c", "while true; do echo working; sleep 30; done"]
      }

      resources {
        cpu    = 20
        memory = 16
      }
    }
  }
}
