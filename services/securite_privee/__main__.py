"""`python -m services.securite_privee`: run the service with settings from the environment."""

from services.agency.app import main
from services.securite_privee.app import PROFILE

if __name__ == "__main__":
    main(PROFILE)
