"""`python -m services.police_municipale`: run the service with settings from the environment."""

from services.agency.app import main
from services.police_municipale.app import PROFILE

if __name__ == "__main__":
    main(PROFILE)
