"""The verbs of learning, one module per sub-domain: quizzes, choices (tracks), certificates."""
