"""``wherewhen serve``: a local web page to watch explanations, compare models, browse a run's evaluation and mark
the frames where the action is (docs/serve.md).

>>> from wherewhen.serve import ServeConfig, create_app
>>> app = create_app(ServeConfig(runs=(Path("runs"),)))      # an ASGI app: uvicorn.run(app, host="127.0.0.1")
"""

from wherewhen.serve.app import create_app
from wherewhen.serve.config import ServeConfig

__all__ = ["ServeConfig", "create_app"]
