"""`python -m services.police_nationale`: run the service with settings from the environment."""

from services.agency.app import main
from services.police_nationale.app import PROFILE

if __name__ == "__main__":
    main(PROFILE)
