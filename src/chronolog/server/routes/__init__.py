"""One routes module per part, each an ``APIRouter`` mounted under ``/api/v1``."""
