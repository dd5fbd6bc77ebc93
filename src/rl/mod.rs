//! Reinforcement-learning maths on plain data: groups, filters (PROF and others), advantages, losses.
