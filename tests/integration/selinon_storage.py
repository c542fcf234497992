"""A storage adapter written for Selinon (``selinon.DataStorage``), used as it is by flowtrace's worker.

Nothing here imports flowtrace: it is what a Selinon project has. Each result
is one JSON file in a folder, and each error one more; ``delete`` is left
out, as Selinon allows.
"""

import json
import os

from selinon import DataStorage


class JsonFolder(DataStorage):
    """One JSON file per stored result or error, under ``path``."""

    def __init__(self, path):
        super().__init__()
        self.path = path.format(**os.environ)  # as Selinon's own adapters expand their configuration
        self._connected = False

    def connect(self):
        os.makedirs(self.path, exist_ok=True)
        self._connected = True

    def is_connected(self):
        return self._connected

    def disconnect(self):
        self._connected = False

    def file(self, flow_name, task_name, task_id, kind="result"):
        return os.path.join(self.path, "%s.%s.%s.%s.json" % (flow_name, task_name, task_id, kind))

    def retrieve(self, flow_name, task_name, task_id):
        with open(self.file(flow_name, task_name, task_id)) as stream:
            return json.load(stream)

    def store(self, node_args, flow_name, task_name, task_id, result):
        self._write(self.file(flow_name, task_name, task_id), result)
        return task_id

    def store_error(self, node_args, flow_name, task_name, task_id, exc_info):
        self._write(self.file(flow_name, task_name, task_id, "error"),
                    {"node_args": node_args, "type": exc_info[0].__name__, "message": str(exc_info[1])})
        return task_id

    @staticmethod
    def _write(path, value):
        with open(path + ".tmp", "w") as stream:
            json.dump(value, stream)
        os.replace(path + ".tmp", path)
