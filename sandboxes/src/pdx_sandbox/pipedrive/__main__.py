import sys

from pdx_sandbox.pipedrive.cli import main

sys.exit(main())
