# Prints what podman-compose makes of a compose file (its containers and volumes) as JSON,
# without running anything: podman-compose 1.0.3 has no `config` command, and its --dry-run
# still creates volumes and networks.
# Usage: python3 compose-parse.py COMPOSE_FILE   (variables come from the environment)
import json
import sys

sys.argv = ["podman-compose", "-p", "chargegate", "-f", sys.argv[1], "up"]
from podman_compose import podman_compose as compose  # noqa: E402

compose.global_args = compose._parse_args()
compose._parse_compose_file()
print(json.dumps({"containers": compose.containers, "volumes": compose.vols}, default=str))
