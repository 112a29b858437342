"""Texts about a safe time said inside a sentence, and texts about the situation that say
nothing about time: the tables that the reader (test_safetime.py), the webhook and the path
for texts kept while the store was down (test_sms_safetime.py) must all agree on.

Borderline, decided: a day or a part of the day in a story ("he posted it on Monday") is
asked about, not guessed (the cost is one question); the past ("last night", "yesterday",
"2 days ago") and greetings ("good morning") are not safe times; a loose number is a time
only where a sentence could end ("at 6", not "about 20 pictures").
"""

from __future__ import annotations

# A routine (or an idiom) said with a time: the window is read. Times are 24-hour; "17:00-"
# is after 5pm, "-08:00" before 8am (the webhook then holds it: never inside our hours).
READ_IN_A_SENTENCE = [
    # Found: each was answered "as soon as someone is free" and stored as any time.
    ("any time after my shift ends at 5", "17:00-"),
    ("after my shift ends at 5", "17:00-"),
    ("after the kids are in bed, about 8", "20:00-"),
    # More routines with a time.
    ("after work at 6", "18:00-"),
    ("after school at 3", "15:00-"),
    ("when I get home at 6", "18:00-"),
    ("once the kids are at school, around 10", "10:00-"),
    ("after the school run, about 9:30", "09:30-"),
    ("before work at 8", "-08:00"),
    ("after the kids have gone to bed at 7", "19:00-"),
    # British idioms with one meaning (the usual hours are 10:00-16:00).
    ("quarter to 3", "14:45-15:45"),
    ("half past 2", "14:30-15:30"),
    ("first thing", "-11:00"),
    ("first thing in the morning please", "-11:00"),
    ("end of the day", "15:00-"),
    ("call me at the end of the day", "15:00-"),
]

# Half an hour is kept: "half 6" is 6:30, asked as "6:30am or 6:30pm?".
AMBIGUOUS_HALF_HOURS = [
    ("not before half 6", "6:30"),
    ("half 6", "6:30"),
    ("after half 7", "7:30"),
    ("please ring around 4ish", "4"),  # 4pm is when we close
    ("after work at 11", "11"),  # work ends in the afternoon, but 11am is in our hours: asked
]

# Something about when, that can't be read as a window: held, and the person asked.
HELD_AND_ASKED = [
    # Found: stored as any time, due at once.
    "not while he's home",
    # Found in review: a date was stored as any time.
    "not until the 4th",
    "call me on the 30th",
    "call me on 30 December",
    "call me after new year",
    # A person with their presence.
    "when he's out",
    "only when he's out please",
    "before he gets home",
    "while my partner is here",
    "please don't call while my husband is in",
    "call when he has gone to work",
    "after he leaves for work",
    "once she's asleep",
    "whenever he's not home",
    "as long as he isn't there",
    "not now he is here",
    "my boyfriend is always here",
    "he's home today so not today",
    "call me tomorrow, he will be out",
    "text first, my ex is around",
    "my mum is home till 5",
    "he goes out at 6",
    "I can't talk right now",
    "hes home",
    "he'll be back soon",
    "call me later",
    "can you ring in an hour",
    "not yet please",
    "he's in the next room",
    "my husband is sat next to me",
    "he is downstairs",
    "she's listening",
    # Routines.
    "after work",
    "after school",
    "before work",
    "when the kids are asleep",
    "when the kids are in bed",
    "on my lunch break",
    "when I finish my shift",
    "when I get home",
    "when I'm on my own",
    "when it's safe",
    "ring me after the school run",
    "at bedtime",
    "dont call me at work",
    "please stop calling me at work",
    # Meals: a different hour in different places.
    "teatime",
    "dinnertime",
    "after tea",
    "after dinner",
    "before my tea please",
    # Days and parts of the day in a sentence.
    "tomorrow when he's at work",
    "he checks my phone in the evenings",
    "he works nights",
    "he's back on Monday",
    "over the weekend if you can",
    "next week please",
    "friday 27th",
    "he posted my photos this morning please help",
    "is 3pm ok for you",
]

# About the situation only: a person without presence or a time says nothing about when.
# Each is a plain request: called as soon as we can, never held.
SITUATION = [
    "he shared it with his mates",
    "he posted my photos online",
    "my ex sent pictures of me to my friends",
    "someone made a fake account with my pictures",
    "I want to report it",
    "how do I end this",
    "he is threatening to share them",
    "she says she will send them to my family",
    "they want money or they will post them",
    "I need help getting it taken down",
    "he put it on a website",
    "my partner found out and he is angry",
    "my husband doesn't know about this",
    "he keeps messaging me",
    "I don't know what to do",
    "can someone help me please",
    "my friend told me it was on a group chat",
    "I think my account was hacked",
    "he has screenshots of our chats",
    "I'm scared he will send it to my boss",
    "please help me remove a video",
    "is this illegal",
    "I want to talk to someone",
    "he said he would ruin my life",
    "my boyfriend recorded me without asking",
    "someone at school shared a picture of me",
    "a guy from work is sharing my pics",
    "they put it in the group chat",
    "he sent it to his friends",
    "she uploaded it to a site",
    "I have been blackmailed",
    "he says he'll post it unless I pay",
    "my ex won't delete them",
    "I need advice",
    "he is my ex",
    "he used to be my partner",
    "who can I speak to",
    "he is out of control",
    "she is in my class",
    "he is about to post it",
    "there are about 20 pictures",
    "he has 3 videos of me",
    "I'm 17 is that ok",
    "he posted them last night",
    "it went up 2 days ago",
    "good morning, please help me",
    "call me back please",
    "my stepdad shared it",
]
