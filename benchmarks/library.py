"""How the "My models" page holds up with 2,000 models for one user.

    python -m benchmarks.library [--models 2000] [--database-url URL]   (give a URL of a throwaway database)

Prints the database time of one page (first, middle, last, and a name search) and the
time to render the whole page through Streamlit's AppTest (frame + library page,
thumbnails as signed URLs). Uses a throwaway SQLite database unless a URL is given.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

REPEATS = 7


def _median_ms(fn) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", type=int, default=2000)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="vorm-bench-"))
    os.environ.update({"DATA_DIR": str(tmp), "STORAGE_DIR": str(tmp / "storage"), "ENVIRONMENT": "test",
                       "VORM_SECRETS_FILE": "/nonexistent", "DATABASE_URL": args.database_url or
                       f"sqlite:///{tmp / 'vorm.db'}"})

    from core.accounts import auth, sessions
    from core.content import library
    from core.db import get_session, migrate
    from core.models import Model3D, utcnow

    migrate()
    with get_session() as session:
        user = auth.create_user(session, email=f"bench-{time.time_ns()}@example.org", password="benchmark-123")
        session.commit()
        now = utcnow()
        session.add_all([
            Model3D(user_id=user.id, name=f"{'teapot' if i % 10 == 0 else 'model'} {i}", mode="inflate",
                    storage_prefix=f"users/{user.id}/models/{i}", glb_key=f"users/{user.id}/models/{i}/model.glb",
                    thumbnail_keys={"front": f"users/{user.id}/models/{i}/front.png"}, faces=20000,
                    created_at=now - timedelta(minutes=i))
            for i in range(args.models)
        ])
        session.commit()
        token = sessions.create_session(session, user=user)

    def page(n: int, search: str = "") -> None:
        with get_session() as s:
            library.list_models(s, user_id=user.id, page=n, search=search)

    pages = library.list_models(get_session().__enter__(), user_id=user.id).pages
    print(f"{args.models} models for one user, {library.PAGE_SIZE} per page ({pages} pages)")
    print(f"  page 1 query:        {_median_ms(lambda: page(1)):7.1f} ms")
    print(f"  page {pages // 2} query:       {_median_ms(lambda: page(pages // 2)):7.1f} ms")
    print(f"  last page query:     {_median_ms(lambda: page(pages)):7.1f} ms")
    print(f"  search 'teapot':     {_median_ms(lambda: page(1, 'teapot')):7.1f} ms")

    from streamlit.testing.v1 import AppTest

    root = Path(__file__).resolve().parent.parent

    def render() -> None:
        at = AppTest.from_file(str(root / "app.py"), default_timeout=60)
        at.session_state["_vorm_token"] = token
        at.session_state["_vorm_no_cookies"] = True
        at.run()
        at.switch_page("pages/library.py").run()
        assert not at.exception, at.exception

    render()  # warm caches and imports
    print(f"  full page render (frame + library, AppTest): {_median_ms(render):7.1f} ms")


if __name__ == "__main__":
    main()
