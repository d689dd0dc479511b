"""What the connections tests share: the servers' addresses and the credentials they use."""

from __future__ import annotations

import os

MARIADB_SERVER = os.environ.get("PAUTA_TEST_MARIADB", "mysql+pymysql://root@127.0.0.1:3306")
S3_KEY, S3_SECRET = "AKIAPAUTATEST", "moto-secret-4e1d9c"
HTTP_USER, HTTP_PASSWORD = "bot", "http-pw-5b7e2a"
