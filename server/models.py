"""Every model module, imported once so the metadata knows all tables (create_all, migrations)."""
from .assignments import models as assignments  # noqa: F401
from .audit import models as audit  # noqa: F401
from .auth import models as auth  # noqa: F401
from .forms import models as forms  # noqa: F401
from .jobs import models as jobs  # noqa: F401
from .alerts import models as alerts  # noqa: F401
from .idempotency import IdempotencyRecord  # noqa: F401
from .media import models as media  # noqa: F401
from .offices import models as offices  # noqa: F401
from .receipts import models as receipts  # noqa: F401
from .recommendations import models as recommendations  # noqa: F401
from .reports import models as reports  # noqa: F401
from .review import models as review  # noqa: F401
from .visits import models as visits  # noqa: F401
