"""The MLflow mirror (``PAUTA_MLFLOW_TRACKING_URI``): the outbox sender, the model registry
and links to MLflow's UI. Only ``mirror`` and ``registry`` import MLflow, and only when used."""
