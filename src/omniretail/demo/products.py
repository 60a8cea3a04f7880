"""A deterministic generator of realistic grocery and general-merchandise products. Pure module.

Used by the demo and by `omniretail bench catalog` (which needs 100,000 distinct products).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import product as cartesian

from omniretail.catalog.codes import with_check_digit

# category: (perishable, price range in EUR, product types, variants, sizes, brands)
CATEGORIES: dict[str, tuple[bool, tuple[float, float], list[str], list[str], list[str], list[str]]] = {
    "Dairy": (True, (0.89, 6.99),
              ["Whole Milk", "Semi-Skimmed Milk", "Greek Yoghurt", "Natural Yoghurt", "Butter", "Cheddar",
               "Gouda", "Mozzarella", "Cream Cheese", "Kefir", "Skyr", "Quark", "Buttermilk", "Sour Cream"],
              ["Organic", "Lactose-Free", "Light", "Classic", "Farmhouse", "Alpine", "Creamy", "Mild", "Mature",
               "Smoked", "Vanilla", "Strawberry"],
              ["150 g", "250 g", "500 g", "1 l", "1 kg"],
              ["Alpenhof", "Weidegold", "Milchhaus", "Friesland Farm", "Bergkase", "Hollandia", "Kuhglocke",
               "Meadowvale"]),
    "Bakery": (True, (0.49, 5.49),
               ["Sourdough Bread", "Rye Bread", "Croissants", "Bagels", "Baguette", "Pretzel Rolls",
                "Cinnamon Buns", "Spelt Bread", "Toast Bread", "Brioche", "Muffins", "Crispbread"],
               ["Wholegrain", "Seeded", "Organic", "Classic", "Stone-Baked", "Multigrain", "Butter",
                "Gluten-Free", "Rustic", "Mini"],
               ["1 pc", "4 pcs", "6 pcs", "500 g", "750 g"],
               ["Backstube", "Kornfeld", "Golden Crust", "Mehlwerk", "Oven & Co", "Brotzeit", "Hearth Lane"]),
    "Fruit & Vegetables": (True, (0.39, 4.99),
                           ["Bananas", "Apples", "Tomatoes", "Cucumbers", "Carrots", "Avocados", "Blueberries",
                            "Strawberries", "Spinach", "Potatoes", "Onions", "Peppers", "Lemons", "Grapes"],
                           ["Organic", "Regional", "Cherry", "Baby", "Sweet", "Red", "Green", "Yellow", "Seedless",
                            "Fairtrade"],
                           ["250 g", "500 g", "1 kg", "2 kg", "1 pc"],
                           ["Gartenfrisch", "Sunvalley", "Orchard Hill", "Feldgrun", "Terra Verde", "Harvest Bay"]),
    "Beverages": (False, (0.49, 14.99),
                  ["Orange Juice", "Apple Juice", "Sparkling Water", "Still Water", "Cola", "Iced Tea",
                   "Coffee Beans", "Ground Coffee", "Green Tea", "Black Tea", "Lemonade", "Energy Drink",
                   "Oat Drink", "Almond Drink"],
                  ["Organic", "Zero Sugar", "Classic", "Premium", "Not From Concentrate", "Decaf", "Peach",
                   "Lemon", "Mango", "Espresso", "Barista", "Ginger"],
                  ["330 ml", "500 ml", "1 l", "1.5 l", "250 g", "500 g", "1 kg"],
                  ["Quellwerk", "Brauhaus Nord", "Kaffeerost", "Teegarten", "Citrona", "Frischquell", "Bluewell",
                   "Hafermann"]),
    "Snacks": (False, (0.79, 7.99),
               ["Dark Chocolate", "Milk Chocolate", "Potato Chips", "Pretzels", "Cookies", "Granola Bar",
                "Almonds", "Cashews", "Gummy Bears", "Popcorn", "Rice Cakes", "Wafers", "Tortilla Chips"],
               ["Sea Salt", "Hazelnut", "Caramel", "Paprika", "Sour Cream", "Honey Roasted", "Chili", "Vanilla",
                "Whole Nut", "Mint", "Orange", "Crispy"],
               ["100 g", "150 g", "200 g", "300 g", "500 g"],
               ["Schokohaus", "Knusperland", "Cacao Nord", "Nussbaum", "Crunchy Fox", "Sweet Harbour",
                "Salzkorn"]),
    "Pantry": (False, (0.69, 12.99),
               ["Spaghetti", "Penne", "Basmati Rice", "Olive Oil", "Tomato Sauce", "Honey", "Peanut Butter",
                "Muesli", "Oats", "Lentils", "Chickpeas", "Flour", "Sugar", "Balsamic Vinegar", "Mustard"],
               ["Organic", "Wholewheat", "Extra Virgin", "Classic", "Crunchy", "Smooth", "Italian", "Red",
                "Spicy", "Mild", "Fine", "Coarse"],
               ["250 g", "500 g", "750 ml", "1 kg", "2 kg"],
               ["Vorratskammer", "La Dispensa", "Goldahre", "Mill & Stone", "Honigwabe", "Bella Cucina",
                "Pantry Lane"]),
    "Household": (False, (0.99, 19.99),
                  ["Dish Soap", "Laundry Detergent", "Paper Towels", "Sponges", "Toilet Paper", "Glass Cleaner",
                   "Fabric Softener", "Bin Bags", "Dishwasher Tablets", "All-Purpose Cleaner", "Candles"],
                  ["Lemon", "Sensitive", "Eco", "Ultra", "Lavender", "Fresh Linen", "Unscented", "Heavy Duty",
                   "Ocean", "Citrus"],
                  ["500 ml", "1 l", "2 l", "4 rolls", "8 rolls", "30 pcs"],
                  ["Glanzwerk", "Purex Home", "Blitzblank", "Clean Cove", "Frischluft", "Haushalt Plus"]),
    "Personal Care": (False, (0.99, 24.99),
                      ["Shampoo", "Conditioner", "Toothpaste", "Shower Gel", "Hand Cream", "Deodorant", "Body Lotion",
                       "Face Cream", "Lip Balm", "Sunscreen", "Hand Soap", "Razor Blades"],
                      ["Sensitive", "Repair", "Volume", "Whitening", "Aloe Vera", "Argan Oil", "Men", "Kids",
                       "Fragrance-Free", "Coconut", "SPF 30", "SPF 50"],
                      ["50 ml", "75 ml", "200 ml", "250 ml", "400 ml"],
                      ["Hautnah", "Lumina", "Naturell", "Pure Drift", "Seidenglanz", "Dermavita", "Bodywell"]),
    "Home & Kitchen": (False, (2.99, 89.99),
                       ["Coffee Mug", "Chef's Knife", "Frying Pan", "Tea Towel", "Storage Jar", "Cutting Board",
                        "Saucepan", "Water Bottle", "Lunch Box", "Wine Glasses", "Cushion", "Throw Blanket"],
                       ["Ceramic", "Stainless Steel", "Bamboo", "Glass", "Cast Iron", "Linen", "Cotton", "Enamel",
                        "Nordic", "Vintage"],
                       ["Small", "Medium", "Large", "Set of 2", "Set of 4"],
                       ["Kuchenwerk", "Hygge Home", "Steel & Oak", "Casa Nova", "Wohnfein", "Fjord Living"]),
    "Electronics": (False, (4.99, 149.99),
                    ["USB-C Cable", "Power Bank", "Wireless Earbuds", "Phone Case", "Bluetooth Speaker",
                     "Wall Charger", "HDMI Cable", "Smart Plug", "LED Bulb", "Headphones", "Screen Protector"],
                    ["Fast-Charge", "Braided", "Compact", "Pro", "Mini", "Waterproof", "Noise-Cancelling", "Slim",
                     "Rugged", "Wireless"],
                    ["1 m", "2 m", "10000 mAh", "20000 mAh", "1 pc", "2 pcs"],
                    ["Voltix", "Nordlicht", "Soundwave", "Ampere One", "Kabelwerk", "Pixelon"]),
    "Apparel": (False, (4.99, 79.99),
                ["T-Shirt", "Hoodie", "Socks", "Rain Jacket", "Jeans", "Sweatpants", "Beanie", "Scarf",
                 "Polo Shirt", "Cardigan", "Leggings"],
                ["Navy", "Black", "White", "Grey", "Olive", "Burgundy", "Sand", "Sky Blue", "Charcoal", "Red"],
                ["XS", "S", "M", "L", "XL", "XXL"],
                ["Nordwind", "Urban Fjord", "Lodenwerk", "Basic Club", "Wolkenweich", "Trailside"]),
    "Toys": (False, (2.99, 59.99),
             ["Building Blocks", "Puzzle", "Plush Bear", "Board Game", "Toy Car", "Doll", "Kite", "Crayons",
              "Card Game", "Marble Run", "Rubber Duck"],
             ["Wooden", "Classic", "Junior", "Deluxe", "Travel", "Giant", "Rainbow", "Eco", "Magnetic", "Glow"],
             ["Small", "Medium", "Large", "100 pcs", "500 pcs", "1000 pcs"],
             ["Spielwerk", "Tiny Troll", "Kinderkram", "Happy Otter", "Brettspielhaus", "Wunderbox"]),
}

PACKS = ["", "2-Pack", "6-Pack", "Family Pack"]

GIFTS = ["Tote Bag", "Ceramic Mug", "Tea Sampler", "Chocolate Heart", "Reusable Straw Set", "Keyring",
         "Umbrella", "Travel Pillow", "Notebook", "Water Bottle", "Cookie Tin", "Seed Packet", "Beach Towel",
         "Pen Set", "Lunch Bag", "Plush Owl", "Sunglasses", "Picnic Blanket", "Candle", "Puzzle Cube"]


@dataclass(frozen=True)
class GeneratedProduct:
    sku: str
    ean: str
    name: str
    brand: str
    category: str
    family: str | None
    price: str
    perishable: bool
    is_gift: bool
    rating: float | None
    rating_count: int
    image_urls: list[str]
    attributes: dict[str, str]
    product_type: str

    def csv_row(self, currency: str = "EUR") -> dict[str, object]:
        import json

        return {"sku": self.sku, "ean": self.ean, "name": self.name, "brand": self.brand,
                "category": self.category, "family": self.family or "", "price": self.price, "currency": currency,
                "rating": "" if self.rating is None else self.rating, "rating_count": self.rating_count,
                "is_gift": str(self.is_gift).lower(), "perishable": str(self.perishable).lower(),
                "image_urls": " ".join(self.image_urls), "attributes": json.dumps(self.attributes),
                "gift_min_stock": 5 if self.is_gift else "",
                "gift_low_policy": ("hide" if self.sku.endswith(("2", "4")) else "flag") if self.is_gift else "flag"}


def _ean(rng: random.Random, used: set[str]) -> str:
    while True:
        code = with_check_digit("40" + "".join(str(rng.randrange(10)) for _ in range(10)))
        if code not in used:
            used.add(code)
            return code


def _combinations(rng: random.Random) -> list[tuple[str, str, str, str, str]]:
    combos = []
    for category, (_, _, types, variants, sizes, brands) in CATEGORIES.items():
        for brand, type_, variant, size, pack in cartesian(brands, types, variants, sizes, PACKS):
            combos.append((category, brand, type_, variant, f"{size} {pack}".strip()))
    rng.shuffle(combos)
    return combos


def generate_products(count: int, *, seed: int = 7, gifts: int = 20) -> Iterator[GeneratedProduct]:
    """`count` distinct products (the first `gifts` of them promotional gifts), deterministic for a seed."""
    rng = random.Random(seed)
    used_eans: set[str] = set()
    gift_count = min(gifts, len(GIFTS), count)
    for i in range(gift_count):
        yield GeneratedProduct(
            sku=f"GFT-{i + 1:05d}", ean=_ean(rng, used_eans), name=f"Gift {GIFTS[i]}", brand="Hallberg",
            category="Gifts", family=None, price="0.00", perishable=False, is_gift=True, rating=None,
            rating_count=0, image_urls=[], attributes={"promotion": "loyalty"}, product_type=GIFTS[i])
    combos = _combinations(rng)
    if count - gift_count > len(combos):
        raise ValueError(f"the generator makes at most {len(combos) + gift_count} distinct products")
    prefixes = {c: c[:3].upper() for c in CATEGORIES}
    for n, (category, brand, type_, variant, size) in enumerate(combos[:count - gift_count], start=1):
        perishable, (low, high), *_ = CATEGORIES[category]
        price = round(rng.uniform(low, high) * (2.6 if "Family" in size else 1.0), 2)
        sku = f"{prefixes[category]}-{n:06d}"
        apparel = category == "Apparel"
        yield GeneratedProduct(
            sku=sku, ean=_ean(rng, used_eans), name=f"{brand} {variant} {type_} {size}", brand=brand,
            category=category,
            family=f"{prefixes[category]}-{brand[:4].upper()}-{type_[:6].upper()}" if apparel else None,
            price=f"{price:.2f}", perishable=perishable, is_gift=False,
            rating=round(rng.uniform(2.8, 5.0), 1) if rng.random() < 0.8 else None,
            rating_count=rng.randrange(0, 800), image_urls=[f"https://img.omniretail.invalid/p/{sku}.jpg"],
            attributes={"size": size.split(" ")[0]} if apparel else {"size": size}, product_type=type_)
