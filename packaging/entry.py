"""Entry point of the frozen app: `zvc69-studio` (the studio) or, under the name `zvc69`,
the command line. The bundle ships one executable and a `zvc69` link to it."""

import os
import sys


def main() -> int:
    if os.path.basename(sys.argv[0]).lower().startswith("zvc69") and \
            not os.path.basename(sys.argv[0]).lower().startswith("zvc69-studio"):
        from codec.cli import main as cli_main

        return cli_main(sys.argv[1:])
    from app.main import main as studio_main

    return studio_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
