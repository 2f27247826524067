"""The local stack: a real Kafka broker (KRaft) and a MongoDB-wire server, run with the system JDK on loopback."""

from __future__ import annotations

import base64
import json
import os
import string
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from mednet_shared.platform.kafka_security import PLAINTEXT, KafkaSecurity

from . import kafka_acls
from .ops.cluster import kafka_answers
from .processes import ManagedProcess, port_answers, port_frees
from .provision import LOCAL_DIR, StackError, cache_dir, kafka_jars, mongo_wire_jars, require_tool

KAFKA_START_TIMEOUT = float(os.environ.get("MEDNET_KAFKA_START_TIMEOUT", "90"))
MONGO_START_TIMEOUT = float(os.environ.get("MEDNET_MONGO_START_TIMEOUT", "60"))
MONGO_CACHE_MEGABYTES = int(os.environ.get("MEDNET_MONGO_CACHE_MB", "256"))  # H2 page cache of the MongoDB-wire server


def default_data_dir() -> Path:
    return Path(os.environ.get("MEDNET_DATA_DIR", cache_dir() / "stack"))


def _kafka_cluster_id() -> str:
    """Like Kafka's Uuid.randomUuid: base64url of 16 random bytes, never starting with '-' (it would read as a flag)."""
    while True:
        identifier = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not identifier.startswith("-"):
            return identifier


def _java_heap(maximum: str) -> list[str]:
    if maximum == "256m":
        return ["-Xms128m", f"-Xmx{maximum}", "-XX:+UseSerialGC"]
    # G1 aims at 200 ms pauses by default; every request in flight waits out a pause, so aim at 20 ms
    return ["-Xms128m", f"-Xmx{maximum}", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20"]


@dataclass
class KafkaNode:
    data_dir: Path
    port: int = 9092
    controller_port: int = 9093
    node_id: int = 1
    voters: str = ""
    replication: int = 1
    security: str = "plaintext"
    secrets: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def process(self) -> ManagedProcess:
        return ManagedProcess(f"kafka-{self.node_id}", self.data_dir / "run", self.data_dir / "logs")

    @property
    def log_dir(self) -> Path:
        return self.data_dir / f"kafka-{self.node_id}"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def properties_file(self) -> Path:
        """The broker's configuration; in security mode it holds passwords, so it is the owner's alone (0600)."""
        listeners = string.Template((LOCAL_DIR / f"kafka-{self.security}.listeners").read_text()).substitute(
            port=self.port, controller_port=self.controller_port, admin_password=self.secrets.get("admin", ""),
            controller_password=self.secrets.get("controller", ""))
        template = string.Template((LOCAL_DIR / "kafka.properties.template").read_text())
        text = template.substitute(
            listeners=listeners.strip(),
            node_id=self.node_id,
            voters=self.voters or f"{self.node_id}@127.0.0.1:{self.controller_port}",
            port=self.port,
            controller_port=self.controller_port,
            log_dir=self.log_dir,
            replication=self.replication,
            min_isr=min(2, self.replication),
        )
        path = self.data_dir / "run" / f"kafka-{self.node_id}.properties"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.chmod(0o600)
        path.write_text(text)
        return path

    @property
    def client_security(self) -> KafkaSecurity:
        if self.security == "plaintext":
            return PLAINTEXT
        return KafkaSecurity("SASL_PLAINTEXT", "SCRAM-SHA-512", "admin", self.secrets["admin"])

    def _java(self, main: str, *args: str, heap: str = "1g") -> list[str]:
        return [
            require_tool("java", "run the Kafka broker"),
            *_java_heap(heap),
            f"-D{self.process.marker}",
            f"-Dlog4j2.configurationFile={LOCAL_DIR / 'log4j2.properties'}",
            f"-Dmednet.log.file={self.data_dir / 'logs' / f'kafka-{self.node_id}.server.log'}",
            f"-Dkafka.logs.dir={self.data_dir / 'logs'}",
            "-cp", kafka_jars().classpath(),
            main, *args,
        ]

    def format_storage(self, cluster_id: str) -> None:
        if (self.log_dir / "meta.properties").exists():
            return
        import subprocess

        properties = self.properties_file()
        scram = ["--add-scram", f"SCRAM-SHA-512=[name=admin,password={self.secrets['admin']}]"] \
            if self.security == "scram" else []
        command = self._java("kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(properties), *scram,
                             heap="256m")
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise StackError(f"Kafka storage format failed:\n{result.stdout}{result.stderr}")

    def start(self, cluster_id: str) -> bool:
        if self.process.pid() is not None:
            return False
        for port in (self.port, self.controller_port):
            if not port_frees(port):
                raise StackError(
                    f"port {port} (Kafka node {self.node_id}) is taken by another process; "
                    f"free it (ss -ltnp 'sport = :{port}') or choose other ports (MEDNET_KAFKA_PORT)"
                )
        kafka_jars().resolve()
        self.format_storage(cluster_id)
        self.process.start(self._java("kafka.Kafka", str(self.properties_file())))
        return True

    def wait_ready(self, timeout: float = KAFKA_START_TIMEOUT) -> None:
        self.process.wait_until(lambda: port_answers(self.port) and kafka_answers(self.bootstrap,
                                                                                  security=self.client_security),
                                timeout, "ready")


def mongo_answers(url: str, timeout: float = 2.0) -> bool:
    from pymongo import MongoClient
    from pymongo.errors import PyMongoError

    client = MongoClient(url, serverSelectionTimeoutMS=int(timeout * 1000), connectTimeoutMS=int(timeout * 1000))
    try:
        client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        client.close()


@dataclass
class MongoWire:
    data_dir: Path
    port: int = 27017
    in_memory: bool = False

    @property
    def process(self) -> ManagedProcess:
        return ManagedProcess("mongo-wire", self.data_dir / "run", self.data_dir / "logs")

    @property
    def url(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"

    def start(self) -> bool:
        if self.process.pid() is not None:
            return False
        if not port_frees(self.port):
            raise StackError(
                f"port {self.port} (MongoDB-wire server) is taken by another process; "
                f"free it (ss -ltnp 'sport = :{self.port}') or choose another port (MEDNET_MONGO_PORT)"
            )
        mongo_wire_jars().resolve()
        storage = ":memory:" if self.in_memory else str(self.data_dir / "mongo" / "mednet.mv")
        command = [
            require_tool("java", "run the MongoDB-wire server"),
            *_java_heap("1g"),
            f"-Dmednet.mongo.cacheMegabytes={MONGO_CACHE_MEGABYTES}",
            f"-D{self.process.marker}",
            f"-Dlog4j2.configurationFile={LOCAL_DIR / 'log4j2.properties'}",
            f"-Dmednet.log.file={self.data_dir / 'logs' / 'mongo-wire.server.log'}",
            "-cp", mongo_wire_jars().classpath(),
            str(LOCAL_DIR / "MongoWireLauncher.java"), "127.0.0.1", str(self.port), storage,
        ]
        self.process.start(command)
        return True

    def wait_ready(self, timeout: float = MONGO_START_TIMEOUT) -> None:
        self.process.wait_until(lambda: port_answers(self.port) and mongo_answers(self.url), timeout, "ready")


@dataclass
class Stack:
    """Kafka (one node, or a three-node cluster with replication 3 and min.insync.replicas 2) and one
    MongoDB-wire server sharing a data directory; their settings are recorded there."""

    data_dir: Path = field(default_factory=default_data_dir)
    kafka_port: int = int(os.environ.get("MEDNET_KAFKA_PORT", "9092"))
    kafka_controller_port: int = int(os.environ.get("MEDNET_KAFKA_CONTROLLER_PORT", "9093"))
    mongo_port: int = int(os.environ.get("MEDNET_MONGO_PORT", "27017"))
    brokers: int = int(os.environ.get("MEDNET_KAFKA_BROKERS", "1"))
    kafka_ports: list[tuple[int, int]] | None = None
    security: str = os.environ.get("MEDNET_KAFKA_SECURITY", "plaintext")

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).expanduser().resolve()
        recorded = self._recorded()
        if recorded:
            self.kafka_port = recorded["kafka_port"]
            self.kafka_controller_port = recorded["kafka_controller_port"]
            self.mongo_port = recorded["mongo_port"]
            self.brokers = recorded.get("brokers", 1)
            self.kafka_ports = [tuple(pair) for pair in recorded.get("kafka_nodes", [])] or None
            self.security = recorded.get("security", "plaintext")
        if self.security not in kafka_acls.MODES:
            raise StackError(f"MEDNET_KAFKA_SECURITY must be one of {', '.join(kafka_acls.MODES)}, "
                             f"not {self.security!r}")
        if self.brokers not in (1, 3):
            raise StackError(f"the local stack runs 1 or 3 Kafka brokers, not {self.brokers}")
        self.kafka_ports = self.kafka_ports or [
            (self.kafka_port + 2 * n, self.kafka_controller_port + 2 * n) for n in range(self.brokers)]

    @property
    def settings_file(self) -> Path:
        return self.data_dir / "stack.json"

    def _recorded(self) -> dict | None:
        try:
            return json.loads(self.settings_file.read_text())
        except FileNotFoundError:
            return None

    @property
    def kafka_nodes(self) -> list[KafkaNode]:
        voters = ",".join(f"{n + 1}@127.0.0.1:{controller}" for n, (_, controller) in enumerate(self.kafka_ports))
        secrets = kafka_acls.credentials(self.data_dir) if self.secure else {}
        return [KafkaNode(self.data_dir, port, controller, node_id=n + 1, voters=voters, replication=self.brokers,
                          security=self.security, secrets=secrets)
                for n, (port, controller) in enumerate(self.kafka_ports)]

    @property
    def secure(self) -> bool:
        return self.security != "plaintext"

    @property
    def admin_security(self) -> KafkaSecurity:
        return self.kafka.client_security

    @property
    def kafka(self) -> KafkaNode:
        return self.kafka_nodes[0]

    @property
    def mongo(self) -> MongoWire:
        return MongoWire(self.data_dir, self.mongo_port)

    @property
    def bootstrap(self) -> str:
        return ",".join(node.bootstrap for node in self.kafka_nodes)

    @property
    def cluster_id(self) -> str:
        recorded = self._recorded()
        if recorded is None:
            raise StackError(f"no stack recorded in {self.data_dir}")
        return recorded["cluster_id"]

    @property
    def environment(self) -> dict[str, str]:
        environment = {"KAFKA_BOOTSTRAP_SERVERS": self.bootstrap, "MONGODB_URL": self.mongo.url,
                       "MEDNET_TOPIC_REPLICATION": str(self.brokers)}
        if self.secure:
            environment |= {"KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512"}
        return environment

    def up(self, on_step=lambda message: None) -> dict[str, bool]:
        """Start what is not running and wait until it answers. Returns which components were started."""
        require_tool("java", "run the local Kafka broker and MongoDB-wire server")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        recorded = self._recorded() or {
            "cluster_id": _kafka_cluster_id(),
            "kafka_port": self.kafka_port,
            "kafka_controller_port": self.kafka_controller_port,
            "mongo_port": self.mongo_port,
            "brokers": self.brokers,
            "kafka_nodes": self.kafka_ports,
            "security": self.security,
        }
        self.settings_file.write_text(json.dumps(recorded, indent=2))
        for jars in (kafka_jars(), mongo_wire_jars()):
            if not jars.is_complete:
                on_step(f"downloading {jars.name} jars from Maven Central into {jars.directory} (first start only)")
                jars.resolve()
        on_step("starting Kafka and the MongoDB-wire server")
        started = {self._name(node): node.start(recorded["cluster_id"]) for node in self.kafka_nodes}
        started["mongo-wire"] = self.mongo.start()
        on_step("waiting for Kafka and the MongoDB-wire server to answer")
        for node in self.kafka_nodes:
            node.wait_ready()
        self.mongo.wait_ready()
        if self.secure and kafka_acls.needs_provisioning(self):
            on_step("provisioning the services' Kafka users, topics and ACLs")
            kafka_acls.provision_services(self)
        return started

    def _name(self, node: KafkaNode) -> str:
        return "kafka" if self.brokers == 1 else node.process.name

    def down(self) -> dict[str, bool]:
        stopped = {self._name(node): node.process.stop() for node in self.kafka_nodes}
        return {**stopped, "mongo-wire": self.mongo.process.stop()}

    def status(self) -> list[dict]:
        components = [(self._name(node), node.process, node.port,
                       lambda node=node: kafka_answers(node.bootstrap, 2.0, node.client_security))
                      for node in self.kafka_nodes]
        components.append(("mongo-wire", self.mongo.process, self.mongo_port,
                           lambda: mongo_answers(self.mongo.url, 1.0)))
        rows = []
        for name, process, port, probe in components:
            pid = process.pid()
            rows.append({"component": name, "pid": pid, "port": port,
                         "ready": bool(pid) and port_answers(port) and probe(), "log": str(process.log_file)})
        return rows

    def is_running(self) -> bool:
        return all(row["ready"] for row in self.status())
