from helpers import extract_code


def improve_algorithm(initial_solution, utility, language_model):
    """Improves a solution according to a utility function."""
    expertise = "You are an expert computer science researcher and programmer, especially skilled at optimizing algorithms."
    message = f"Improve the following solution:\n\x60\x60\x60python\n{initial_solution}\n\x60\x60\x60\n\nYou will be evaluated based on this score function:\n\x60\x60\x60python\n{utility.str}\n\x60\x60\x60\n\nYou must return an improved solution. Be as creative as you can under the constraints.\nYour primary improvement must be novel and non-trivial. First, propose an idea, then implement it."
    n_messages = min(language_model.max_responses_per_call, utility.budget)
    new_solutions = []
    for round_index in range(min(3, language_model.budget) // 3):
        new_solutions += language_model.batch_prompt(
            expertise, [message] * n_messages, temperature=min(1.258, 0.621 + 0.1 * round_index)
        )
        new_solutions += language_model.batch_prompt(
            expertise, [message] * n_messages, temperature=min(1.258, 0.621 + 0.1 * round_index)
        )
    new_solutions = extract_code(new_solutions)
    best_solution = max(list(new_solutions) + [initial_solution], key=utility)
    return best_solution
