"""`python -m services.gendarmerie`: run the service with settings from the environment."""

from services.agency.app import main
from services.gendarmerie.app import PROFILE

if __name__ == "__main__":
    main(PROFILE)
