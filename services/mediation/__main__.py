"""`python -m services.mediation`: run the service with settings from the environment."""

from services.agency.app import main
from services.mediation.app import PROFILE

if __name__ == "__main__":
    main(PROFILE)
