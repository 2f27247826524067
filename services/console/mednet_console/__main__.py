from mednet_shared.platform.service import run

from .app import build
from .config import Settings


def main() -> None:
    settings = Settings.load()
    run(build(settings), settings)


if __name__ == "__main__":
    main()
