"""The dashboard's panels; each renders from the model or the lab's tables only."""
