"""Import every domain's tables so `Base.metadata` knows them all (migrations, tests)."""

from omniretail.carts import models as cart_models  # noqa: F401
from omniretail.catalog import models as catalog_models  # noqa: F401
from omniretail.channels import models as channel_models  # noqa: F401
from omniretail.core import models as core_models  # noqa: F401
from omniretail.customers import models as customer_models  # noqa: F401
from omniretail.fulfilment import models as fulfilment_models  # noqa: F401
from omniretail.integration import models as integration_models  # noqa: F401
from omniretail.integration import pos_models  # noqa: F401
from omniretail.inventory import models as inventory_models  # noqa: F401
from omniretail.locations import models as location_models  # noqa: F401
from omniretail.loyalty import models as loyalty_models  # noqa: F401
from omniretail.orders import models as order_models  # noqa: F401
from omniretail.sourcing import models as sourcing_models  # noqa: F401
