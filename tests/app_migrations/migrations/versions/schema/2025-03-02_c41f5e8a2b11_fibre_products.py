"""Products and product blocks of a fibre network, with their resource types and fixed inputs.

Revision ID: c41f5e8a2b11
Revises: b7e2a4d91c00
Create Date: 2025-03-02
"""

from uuid import UUID

from alembic import op

from orchestrion.migrations.helpers import create, delete

revision = "c41f5e8a2b11"
down_revision = "b7e2a4d91c00"
branch_labels = None
depends_on = None

FIBRE_10G_ID = UUID("6f1d2c3b-0a4e-4b5f-8c7d-111111111111")
FIBRE_100G_ID = UUID("6f1d2c3b-0a4e-4b5f-8c7d-222222222222")
SPEED_TYPE_ID = UUID("6f1d2c3b-0a4e-4b5f-8c7d-333333333333")
COLOUR_INPUT_ID = UUID("6f1d2c3b-0a4e-4b5f-8c7d-444444444444")

new_products = {
    "product_blocks": {
        "PatchPortBlock": {
            "description": "A port on a patch panel",
            "tag": "PORT",
            "status": "active",
            "resources": {"panel_name": "Patch panel", "port_speed": ("Speed in Gbit/s", SPEED_TYPE_ID)},
        },
        "FibreBlock": {
            "description": "A fibre between two patch ports",
            "tag": "FIBRE",
            "status": "active",
            "resources": {"fibre_length": "Length in metres"},
            "depends_on_block_relations": ["PatchPortBlock"],
        },
    },
    "products": {
        "Fibre 10G": {
            "product_id": FIBRE_10G_ID,
            "product_type": "Fibre",
            "description": "Dark fibre, 10 Gbit/s optics",
            "tag": "FIBRE",
            "status": "active",
            "root_product_block": "FibreBlock",
            "fixed_inputs": {"speed": "10", "colour": ("blue", COLOUR_INPUT_ID)},
        },
        "Fibre 100G": {
            "product_id": FIBRE_100G_ID,
            "product_type": "Fibre",
            "description": "Dark fibre, 100 Gbit/s optics",
            "tag": "FIBRE",
            "status": "active",
            "root_product_block": "FibreBlock",
            "fixed_inputs": {"speed": "100"},
        },
        "Patch Bundle": {
            "product_type": "PatchBundle",
            "description": "A bundle of patch ports",
            "tag": "PATCH",
            "status": "active",
            "product_blocks": ["PatchPortBlock"],
            "fixed_inputs": {"ports": "4"},
        },
    },
}


def upgrade() -> None:
    create(op.get_bind(), new_products)


def downgrade() -> None:
    delete(
        op.get_bind(),
        {
            "products": new_products["products"],
            "product_blocks": new_products["product_blocks"],
            "resource_types": ["panel_name", "port_speed", "fibre_length"],
        },
    )
