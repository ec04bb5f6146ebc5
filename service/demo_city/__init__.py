"""The demo city, shipped as a city pack (``pack/``), and the seeded generator of its CSV data.

The pack is loaded like any other city's (``cityagent city load service/demo_city/pack``, which is what
``cityagent demo load`` does); the Python modules here only regenerate its enterprise and order data.
"""

from pathlib import Path

DEMO_DIR = Path(__file__).parent
PACK_DIR = DEMO_DIR / "pack"
DOCUMENTS_DIR = PACK_DIR / "documents"
RULES_DIR = PACK_DIR / "rules"
ENTERPRISES_CSV = PACK_DIR / "enterprises" / "enterprises.csv"
DEMO_DICTIONARY = PACK_DIR / "enterprise_fields.yaml"  # the demo's enterprise data dictionary
WORK_ORDERS_CSV = PACK_DIR / "work_orders.csv"
