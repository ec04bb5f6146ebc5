"""示例市, the demo city: policy documents written by us, and seeded enterprise and work-order data."""

from pathlib import Path

DEMO_DIR = Path(__file__).parent
DOCUMENTS_DIR = DEMO_DIR / "documents"
ENTERPRISES_CSV = DEMO_DIR / "enterprises.csv"
DEMO_DICTIONARY = DEMO_DIR / "enterprise_fields.yaml"  # the demo's enterprise data dictionary
WORK_ORDERS_CSV = DEMO_DIR / "work_orders.csv"
