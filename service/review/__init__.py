"""The officer's review (本人確認の審査): checklist, random liveness challenges, video continuity, readiness to decide."""
